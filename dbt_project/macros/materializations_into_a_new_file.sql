{#-
  The table and view materializations on DuckDB, for a relation that does not
  exist yet: every nightly build writes into a new build file
  (trialdw.study_build.prepare_build_file), so every model takes this road.

  The adapter's own materializations create `<name>__dbt_tmp`, rename it to
  `<name>` and drop a `<name>__dbt_backup` after the commit: three statements
  and their Jinja where one does, because there is nothing to keep readable
  while the model is rebuilt. That cost the demo's build (48 tables and 16
  views) ~0.7 s of its ~4.5 s, all of it dbt's own Python per statement.

  Steps (table and view alike):
  1. The relation exists already (a second build into one file, as some tests
     do) or the model is Python: the adapter's own materialization, unchanged.
  2. Otherwise, in the transaction dbt opens: CREATE the relation under its own
     name from the compiled SQL.
  3. Grants and persisted docs (ADaM table and column comments) as the
     adapter's materialization applies them; commit; hooks.
  The two stay two: each keeps its adapter materialization's order (the
  table runs the post-hooks before grants and docs, the view after), which a
  shared macro would change for one of them.
  tests/test_dbt_adam.py builds one warehouse both ways and compares every
  table, view, column type and comment.
-#}

{% materialization table, adapter="duckdb" %}
  {%- if load_cached_relation(this) is not none or model['language'] != 'sql' -%}
    {{ return(dbt.materialization_table_duckdb()) }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% call statement('main') -%}
    {{ create_table_as(False, target_relation, compiled_code) }}
  {%- endcall %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {% do apply_grants(target_relation, config.get('grants'), should_revoke=False) %}
  {% do persist_docs(target_relation, model) %}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization view, adapter="duckdb" %}
  {%- if load_cached_relation(this) is not none -%}
    {{ return(dbt.materialization_view_default()) }}
  {%- endif -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% call statement('main') -%}
    {{ get_create_view_as_sql(target_relation, sql) }}
  {%- endcall %}
  {% do apply_grants(target_relation, config.get('grants'), should_revoke=False) %}
  {% do persist_docs(target_relation, model) %}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
