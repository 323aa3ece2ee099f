# The Shopper Analytics code location, webserver and daemon image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    DAGSTER_HOME=/opt/dagster/home \
    SHOPPER_DATA_DIR=/data

WORKDIR /opt/shopper
COPY pyproject.toml README.md ./
COPY shopper_assets ./shopper_assets
COPY dbt ./dbt
COPY workspace.yaml ./
# Building the definitions parses the dbt project into dbt/target/manifest.json.
RUN pip install -e . \
 && mkdir -p "$DAGSTER_HOME" /data \
 && python -c "from shopper_assets.definitions import defs; defs()"
COPY dagster.yaml "$DAGSTER_HOME/dagster.yaml"

EXPOSE 3000 4000
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "shopper_assets.definitions"]
