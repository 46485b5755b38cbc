{#- Schemas are exactly staging / intermediate / adam (not main_adam):
    the Python steps and the data managers query them by these names.
    The dbt var `schema_prefix` (empty by default) goes before every schema,
    the sources' too (staging/_sources.yml): a Spark build of one study group
    reads g1_raw ... and writes g1_staging ... g1_adam (trialdw.dbt_runner). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ var('schema_prefix', '') }}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
