# syntax=docker/dockerfile:1
# Build stage: the locked dependencies in a virtualenv (compilers stay in this stage).
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install -r /tmp/requirements.lock

# Runtime stage: the virtualenv plus app/ and migrations/ side by side, as an unprivileged user.
FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/srv PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    XPULSE_ENV=production
# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric USER (deploy/k8s sets the
# same uid and gid).
RUN groupadd --system --gid 10001 xpulse \
 && useradd --system --uid 10001 --gid 10001 --home-dir /srv xpulse \
 && printf '#!/bin/sh\nexec python -m app.cli "$@"\n' > /usr/local/bin/xpulse \
 && chmod 755 /usr/local/bin/xpulse
WORKDIR /srv
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
RUN mkdir -p /srv/var && chown 10001:10001 /srv/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
# Migrations take a PostgreSQL advisory lock, so replicas that start together are safe.
CMD ["sh", "-c", "xpulse migrate && exec xpulse serve --host 0.0.0.0 --port 8000"]
