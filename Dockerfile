# The production image: the official Airflow image of the version vnportals pins, with
# vnportals and its locked dependencies installed into it.
#
#   docker build -t vnportals-airflow:3.3.2 .      (docker compose builds it too)
#
# The DAGs are read from /opt/vnportals/dags (compose mounts ./dags there), the data root
# is /opt/vnportals/data; the vnportals plugin (it creates the crawl pool) is registered by
# installing the project.
FROM apache/airflow:3.3.2-python3.11

WORKDIR /opt/vnportals

# The dependencies first, exactly as uv.lock has them (the layer is reused while only the
# code changes), then the project itself.
COPY --chown=airflow:0 pyproject.toml uv.lock /opt/vnportals/
RUN pip install --no-cache-dir "uv>=0.9,<1" \
 && uv export --locked --no-dev --no-hashes --no-emit-project --format requirements-txt -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY --chown=airflow:0 . /opt/vnportals
RUN pip install --no-cache-dir --no-deps -e /opt/vnportals

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/vnportals/dags \
    VNPORTALS_DATA_DIR=/opt/vnportals/data
