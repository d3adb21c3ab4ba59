# The image of the API, the SLA worker and the migration job (compose.yaml runs all three).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
RUN pip install . && useradd --system --uid 10001 kesu
USER kesu

EXPOSE 8000
CMD ["python", "-m", "services.devstack", "api"]
