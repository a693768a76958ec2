"""The Airflow adapter of the run engine: the tasks the DAGs in ``dags/`` call
(:mod:`~pipeline.airflow.tasks`), the shards of portals they map over
(:mod:`~pipeline.airflow.shards`), what the DAGs are configured with
(:mod:`~pipeline.airflow.settings`), and the plugin that creates the crawl pool
(:mod:`~pipeline.airflow.plugin`). Nothing here is imported by the CLI."""
