# The production image: the official Airflow image of the pinned version, with vnportals
# installed into it from the lock file.
FROM apache/airflow:3.3.2-python3.11

USER root
COPY --chown=airflow:0 . /opt/vnportals
USER airflow
WORKDIR /opt/vnportals
RUN pip install --no-cache-dir uv \
 && uv export --locked --no-dev --no-hashes --no-emit-project -o /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt \
 && pip install --no-cache-dir --no-deps -e /opt/vnportals
ENV VNPORTALS_DATA_DIR=/opt/vnportals/data
