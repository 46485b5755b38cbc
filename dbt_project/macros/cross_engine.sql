{#- Engine differences of the models, in one place (docs/spark.md, "One dbt
    project, two engines"). Each macro is dispatched: duckdb__ is the SQL the
    models always had (so the DuckDB build is unchanged), spark__ gives the
    same result on Spark. There is no default__: a third engine fails at
    compile time instead of silently running DuckDB's SQL.

    Where portable SQL reads as well (QUALIFY as a ranked subquery, UNION ALL
    BY NAME as a plain UNION ALL of the same columns, `* EXCLUDE` as a column
    list, `nulls last` written out), the models use it instead of a macro.
    dbt's own cross-database macros are not used where they differ:
    dbt.datediff on Spark raises on a NULL date (ours returns NULL, as DuckDB
    does) and dbt.listagg on Spark ignores its order_by. -#}

{#- Days from `start_expr` to `end_expr` (end - start; NULL if either is NULL),
    a BIGINT as DuckDB's date_diff (Spark's datediff gives an INT). -#}
{% macro days_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('days_between', 'trialdw')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro duckdb__days_between(start_expr, end_expr) -%}
    date_diff('day', {{ start_expr }}, {{ end_expr }})
{%- endmacro %}

{% macro spark__days_between(start_expr, end_expr) -%}
    cast(datediff({{ end_expr }}, {{ start_expr }}) as bigint)
{%- endmacro %}

{#- A date as text in a strftime pattern of %Y, %m and %d (e.g. '%Y-%m-%d',
    '%Y-%m'); Spark's date_format takes the Java pattern of the same text. -#}
{% macro format_date(date_expr, pattern) -%}
    {{ return(adapter.dispatch('format_date', 'trialdw')(date_expr, pattern)) }}
{%- endmacro %}

{% macro duckdb__format_date(date_expr, pattern) -%}
    strftime({{ date_expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__format_date(date_expr, pattern) -%}
    date_format({{ date_expr }}, '{{ pattern | replace('%Y', 'yyyy') | replace('%m', 'MM') | replace('%d', 'dd') }}')
{%- endmacro %}

{#- Site text cast to a type, failing the build on a value that does not
    convert. DuckDB's cast fails by itself; dbt-spark runs Spark with
    spark.sql.ansi.enabled=false (and sets it again before every statement),
    where a bad cast quietly gives NULL, so on Spark a non-NULL value whose
    cast is NULL raises. The data contracts quarantine such values at ingest:
    this only makes sure neither engine can turn one into a NULL silently. -#}
{% macro cast_text(text_expr, type) -%}
    {{ return(adapter.dispatch('cast_text', 'trialdw')(text_expr, type)) }}
{%- endmacro %}

{% macro duckdb__cast_text(text_expr, type) -%}
    cast({{ text_expr }} as {{ type }})
{%- endmacro %}

{#- Spark (ANSI off) also casts '1.5' to the integer 1 where DuckDB gives 2
    (the contracts let integer text only through: ^-?[0-9]+$): on Spark an
    integer type takes integer text only, else the build fails. -#}
{% macro spark__cast_text(text_expr, type) -%}
    {%- if type | lower in ('integer', 'int', 'bigint', 'smallint', 'tinyint') %}
    coalesce(
        case when trim({{ text_expr }}) rlike '^[+-]?[0-9]+$' then cast({{ text_expr }} as {{ type }}) end,
        case when {{ text_expr }} is not null
            then raise_error(concat('cannot cast ', {{ text_expr }}, ' to {{ type }}'))
        end
    )
    {%- else %}
    coalesce(
        cast({{ text_expr }} as {{ type }}),
        case when {{ text_expr }} is not null
            then raise_error(concat('cannot cast ', {{ text_expr }}, ' to {{ type }}'))
        end
    )
    {%- endif %}
{%- endmacro %}

{#- string_agg of `measure` in `order_by` order, of the rows where `where`
    holds (none: all rows); NULL when no row has a value, as DuckDB's. Spark
    has no ordered aggregate: it sorts the collected (order key, value)
    structs, and array_join of nothing would be '' instead of NULL. Both sort
    text by code point. -#}
{% macro ordered_string_agg(measure, delimiter, order_by, where=none) -%}
    {{ return(adapter.dispatch('ordered_string_agg', 'trialdw')(measure, delimiter, order_by, where)) }}
{%- endmacro %}

{% macro duckdb__ordered_string_agg(measure, delimiter, order_by, where) -%}
    string_agg({{ measure }}, '{{ delimiter }}' order by {{ order_by }})
    {%- if where %} filter (where {{ where }}){% endif %}
{%- endmacro %}

{% macro spark__ordered_string_agg(measure, delimiter, order_by, where) -%}
    {%- set value = measure if not where else 'case when ' ~ where ~ ' then ' ~ measure ~ ' end' -%}
    case when count({{ value }}) > 0 then array_join(transform(
        array_sort(collect_list(case when {{ value }} is not null then struct({{ order_by }} as k, {{ value }} as v) end)),
        e -> e.v
    ), '{{ delimiter }}') end
{%- endmacro %}

{#- `alias`.* of `relation`, with the columns named in `replace` (column ->
    expression) replaced by their expression, in place. DuckDB: `* REPLACE`;
    Spark has none, so the columns are read from the relation when the model
    is compiled (it exists by then: it is a ref of the model). -#}
{% macro star_replace(alias, relation, replace) -%}
    {{ return(adapter.dispatch('star_replace', 'trialdw')(alias, relation, replace)) }}
{%- endmacro %}

{% macro duckdb__star_replace(alias, relation, replace) -%}
    {{ alias }}.*{% if replace %} replace (
        {%- for column, expression in replace.items() %}
        {{ expression }} as {{ column }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    ){% endif %}
{%- endmacro %}

{% macro spark__star_replace(alias, relation, replace) -%}
    {%- if not execute or not replace -%}
        {{ alias }}.*
    {%- else -%}
        {%- set by_name = {} -%}
        {%- for column, expression in replace.items() -%}
            {%- do by_name.update({column | upper: expression}) -%}
        {%- endfor -%}
        {%- for column in _relation_columns(relation) %}
        {{ by_name.get(column.name | upper, alias ~ '.' ~ column.name) }} as {{ column.name }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    {%- endif -%}
{%- endmacro %}

{#- The columns of a model's relation from the catalog. In a dbt unit test
    the model reads its parents as CTEs of the fixture rows (__dbt__cte__<model>)
    and the graph is not in the context: the fixture has the columns of the
    parent as built (dbt builds the parents before the unit tests), read from
    the parent's relation, whose schema follows from the project's model names
    (stg_* in staging, int_* in intermediate: dbt_project.yml). -#}
{% macro _relation_columns(relation) -%}
    {%- set cte_prefix = '__dbt__cte__' -%}
    {%- set identifier = relation.identifier if relation.identifier is not none else (relation | string) -%}
    {%- if identifier.startswith(cte_prefix) -%}
        {%- set name = identifier[cte_prefix | length:] -%}
        {%- set schemas = {'stg_': 'staging', 'int_': 'intermediate'} -%}
        {%- set custom = schemas.get(name[:4]) -%}
        {%- if custom is none -%}
            {{ exceptions.raise_compiler_error('star_replace: no schema known for the unit-test input ' ~ name) }}
        {%- endif -%}
        {%- set parent = adapter.get_relation(
            database=none, schema=generate_schema_name(custom, none) | trim, identifier=name
        ) -%}
        {%- if parent is none -%}
            {{ exceptions.raise_compiler_error('star_replace: ' ~ name ~ ' is not built (unit-test input)') }}
        {%- endif -%}
        {{ return(adapter.get_columns_in_relation(parent)) }}
    {%- endif -%}
    {{ return(adapter.get_columns_in_relation(relation)) }}
{%- endmacro %}

{#- A DOUBLE as text, as DuckDB writes it (the shortest text that reads back
    as the same number: 25.0, 12.5, 0.0001, 10000000.0). Spark writes Java's
    Double.toString, the same digits but in scientific notation below 1e-3 and
    from 1e7 (1.0E-4, 1.0E7): those two ranges are written out in full
    (through a decimal of the same digits). Outside [1e-4, 1e16) DuckDB writes
    1e-05 / 1e+16 and Spark 1.0E-5 / 1.0E16: no lab value of these studies
    comes near. -#}
{% macro float_text(expr) -%}
    {{ return(adapter.dispatch('float_text', 'trialdw')(expr)) }}
{%- endmacro %}

{% macro duckdb__float_text(expr) -%}
    cast({{ expr }} as varchar)
{%- endmacro %}

{% macro spark__float_text(expr) -%}
    case
        when abs({{ expr }}) >= 1e-3 and abs({{ expr }}) < 1e7 or {{ expr }} = 0 then cast({{ expr }} as string)
        when abs({{ expr }}) >= 1e-4 and abs({{ expr }}) < 1e16 then regexp_replace(
            regexp_replace(cast(cast(cast({{ expr }} as string) as decimal(38, 20)) as string), '0+$', ''),
            '[.]$', '.0'
        )
        else cast({{ expr }} as string)
    end
{%- endmacro %}

{#- round() of a DOUBLE to `digits` decimals as DuckDB does it: scale, round
    half away from zero, scale back, all in doubles. Spark's round() rounds
    the shortest decimal text of the number instead, which differs on some
    halves (1.005 -> DuckDB 1.0, Spark 1.01). -#}
{% macro round_double(expr, digits) -%}
    {{ return(adapter.dispatch('round_double', 'trialdw')(expr, digits)) }}
{%- endmacro %}

{% macro duckdb__round_double(expr, digits) -%}
    round({{ expr }}, {{ digits }})
{%- endmacro %}

{% macro spark__round_double(expr, digits) -%}
    {%- set scale = 10 ** digits -%}
    (signum({{ expr }} * {{ scale }}) * floor(abs({{ expr }} * {{ scale }}) + cast(0.5 as double)) / {{ scale }})
{%- endmacro %}
