{#- CR marker rule (config CR_MARKER_LBTESTCD / CR_MARKER_WINDOW_DAYS; NULL =
    no rule), for any per-date overall response: the investigator's OVR and the
    warehouse's OVRRECIS both go through this one rule.

    `timepoints` is a relation with STUDYID USUBJID ADT VISIT VISITNUM ORRESP
    (one row per subject and date). A timepoint CR stays CR only if the marker
    result closest to the assessment date, within +/- window days inclusive, is
    <= its LBSTNRHI (two equally close: the higher value; the same value: the
    earlier result, so that the message names one date whatever the engine). Otherwise (high, no
    result in the window, or no upper limit to compare with) it counts as PR.
    ORRESP keeps the value before the rule and MRKREAS says why it changed.
    Marker results are LB as known at the data cut-off (int_lb_at_cutoff). -#}
{% macro apply_cr_marker_rule(timepoints) -%}
with timepoints as (
    select t.*, s.CR_MARKER_LBTESTCD, s.CR_MARKER_WINDOW_DAYS
    from {{ timepoints }} as t
    inner join {{ ref('stg_config__studies') }} as s on s.STUDYID = t.STUDYID
),

markers_in_window as (
    select
        t.STUDYID,
        t.USUBJID,
        t.ADT,
        lb.LBDT,
        lb.LBSTRESN,
        lb.LBSTNRHI,
        row_number() over (
            partition by t.STUDYID, t.USUBJID, t.ADT
            order by abs({{ days_between('t.ADT', 'lb.LBDT') }}), lb.LBSTRESN desc, lb.LBDT
        ) as MARKER_RANK
    from timepoints as t
    inner join {{ ref('int_lb_at_cutoff') }} as lb
        on lb.STUDYID = t.STUDYID
       and lb.USUBJID = t.USUBJID
       and lb.LBTESTCD = t.CR_MARKER_LBTESTCD
       and abs({{ days_between('t.ADT', 'lb.LBDT') }}) <= t.CR_MARKER_WINDOW_DAYS
    where t.ORRESP = 'CR'
),

closest_marker as (
    select * from markers_in_window where MARKER_RANK = 1
),

judged as (
    select
        t.*,
        m.LBDT as MARKER_DT,
        m.LBSTRESN as MARKER_VALUE,
        m.LBSTNRHI as MARKER_ULN,
        t.ORRESP = 'CR' and t.CR_MARKER_LBTESTCD is not null
            and not coalesce(m.LBSTRESN <= m.LBSTNRHI, false) as MARKER_DOWNGRADES
    from timepoints as t
    left join closest_marker as m
        on m.STUDYID = t.STUDYID and m.USUBJID = t.USUBJID and m.ADT = t.ADT
)

select
    STUDYID,
    USUBJID,
    ADT,
    VISIT,
    VISITNUM,
    ORRESP,
    case when MARKER_DOWNGRADES then 'PR' else ORRESP end as AVALC,
    case
        when not MARKER_DOWNGRADES then null
        when MARKER_DT is null then
            'CR counted as PR: no ' || CR_MARKER_LBTESTCD || ' result within '
            || CR_MARKER_WINDOW_DAYS || ' days'
        when MARKER_ULN is null then
            'CR counted as PR: ' || CR_MARKER_LBTESTCD || ' on ' || {{ format_date('MARKER_DT', '%Y-%m-%d') }}
            || ' has no upper limit of normal'
        else
            'CR counted as PR: ' || CR_MARKER_LBTESTCD || ' ' || {{ float_text('MARKER_VALUE') }} || ' on '
            || {{ format_date('MARKER_DT', '%Y-%m-%d') }} || ' above upper limit ' || {{ float_text('MARKER_ULN') }}
    end as MRKREAS
from judged
{%- endmacro %}
