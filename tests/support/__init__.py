"""What the tests share and are not tests: local servers (the scriptable portal server),
runners started as subprocesses (a crawl with a failing callback, a publish to kill, a
network-namespace scenario, ``dag.test()``), probes (what a DAG file does while parsed),
Airflow clusters and their REST client, crowds of imitation portals copied from the bundled
ones, batch builders for the validation tests, and the command-line runner."""
