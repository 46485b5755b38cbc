{#- The subject's baseline biopsy sample (single-cell: CP and GF alike), one
    row per subject with one: STUDYID, USUBJID and the sample id `refid`.
      1. the subject's BASELINE-visit samples, one row each (a sample has a
         row per cell type, or per cell type and gene: the samples are
         ranked, not their rows, which for GF are ~350 a sample);
      2. the latest by `sample_date`, then the largest `refid` (usually the
         only one).
    `samples` is a relation or CTE with STUDYID, USUBJID, VISIT, `refid` and
    `sample_date`. docs/derivations.md (ADCP, ADGF). -#}
{% macro baseline_sample(samples, refid, sample_date) -%}
    select distinct
        STUDYID,
        USUBJID,
        {{ refid }}
    from (
        select
            STUDYID,
            USUBJID,
            {{ refid }},
            dense_rank() over (
                partition by STUDYID, USUBJID order by {{ sample_date }} desc, {{ refid }} desc
            ) as SAMPLE_RANK
        from (
            select distinct
                STUDYID,
                USUBJID,
                {{ refid }},
                {{ sample_date }}
            from {{ samples }}
            where VISIT = 'BASELINE'
        ) as baseline_visit_samples
    ) as ranked_baseline_samples
    where SAMPLE_RANK = 1
{%- endmacro %}
