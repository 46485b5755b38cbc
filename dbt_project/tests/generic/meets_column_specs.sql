{#-
  Every column rule the model's yml declares beside the column, checked in one
  query: `meta: {not_null: true}` (no NULL) and `meta: {accepted_values: [...]}`
  (every non-NULL value is one of them; numbers unquoted, as dbt's own
  accepted_values with quote: false). One row per broken rule: the column, the
  rule, the offending value (NULL for not_null) and how many rows have it.

  Why one test per model and not one per column: dbt's cost is per node
  (~13 ms of its own Python for a data test, whatever its SQL), and the ADaM
  marts declare ~80 such rules; a night runs every one. The declarations stay on
  the columns, where trialdw.submission.metadata also reads them (Define-XML's
  Mandatory flags and CodeLists).

  Algorithm:
   1. find the tested model's node in the graph by its relation (at execution;
      at parse time the graph is not there and nothing is rendered);
   2. per column with a rule, one SELECT of the rows breaking it;
   3. UNION ALL of them, keeping only rules with rows.
-#}
{% test meets_column_specs(model) %}
{%- set checks = [] -%}
{%- if execute -%}
  {#- by relation: the table's name is the model's alias (data_review_findings is `findings`) -#}
  {%- set node = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model')
                 | selectattr('alias', 'equalto', model.identifier) | selectattr('schema', 'equalto', model.schema)
                 | first -%}
  {%- for column in node.columns.values() -%}
    {%- set spec = column.meta or {} -%}
    {%- if spec.get('not_null') -%}
      {%- do checks.append(
        "select '" ~ column.name ~ "' as column_name, 'not_null' as rule, cast(null as " ~ dbt.type_string()
        ~ ") as value, count(*) as n_rows from " ~ model ~ " where " ~ column.name ~ " is null") -%}
    {%- endif -%}
    {%- if spec.get('accepted_values') -%}
      {%- set values = [] -%}
      {%- for value in spec['accepted_values'] -%}
        {%- do values.append("'" ~ (value | replace("'", "''")) ~ "'" if value is string else value | string) -%}
      {%- endfor -%}
      {%- do checks.append(
        "select '" ~ column.name ~ "' as column_name, 'accepted_values' as rule, cast(" ~ column.name ~ " as "
        ~ dbt.type_string() ~ ") as value, count(*) as n_rows from " ~ model ~ " where " ~ column.name
        ~ " is not null and " ~ column.name ~ " not in (" ~ values | join(', ') ~ ") group by " ~ column.name) -%}
    {%- endif -%}
  {%- endfor -%}
{%- endif -%}
{%- if checks %}
select * from (
    {{ checks | join('\n    union all\n    ') }}
) as broken
where n_rows > 0
{%- else %}
select cast(null as {{ dbt.type_string() }}) as column_name where 1 = 0
{%- endif %}
{% endtest %}
