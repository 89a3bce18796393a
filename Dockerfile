# Production image: the same code, served by uvicorn; the worker runs the same image.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml ./
COPY assistant ./assistant
COPY ingest ./ingest
# python-ldap (LDAP sign-in) compiles against OpenLDAP's client library: the compiler and headers
# serve the build only; the libraries it links stay.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libsasl2-2 \
       gcc libc6-dev libldap2-dev libsasl2-dev \
    && pip install --no-cache-dir . \
    && pip install --no-cache-dir --no-deps $(python -c "import tomllib; \
       print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['qwen-assistant']['no-deps'])") \
    && apt-get purge -y --auto-remove gcc libc6-dev libldap2-dev libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . .
RUN useradd --system --create-home app \
    && SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build \
       CELERY_BROKER_URL=redis://localhost VAR_DIR=/tmp/var python manage.py collectstatic --noinput -v0
USER app
EXPOSE 8000
CMD ["uvicorn", "assistant.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
