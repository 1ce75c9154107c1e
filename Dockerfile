# The duncall services' image: migrate, dialer (with the bot inside it) and console
# (see docker-compose.yml and docs/deployment.md).
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 sox fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*
# A user of its own: nothing in the services needs root, and a process that is broken into
# should not own the image's code or the system.
RUN groupadd --system --gid 10001 duncall \
 && useradd --system --uid 10001 --gid duncall --home-dir /var/lib/duncall --create-home \
      --shell /usr/sbin/nologin duncall \
 && install -d -o duncall -g duncall /var/lib/duncall/metrics
WORKDIR /opt/duncall
COPY . .
# The CPU build of torch; an unpinned torch pulls a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir .
# The published dialogue scripts start as the shipped ones, in a folder the service user owns
# (docker-compose.yml mounts a volume there that the console publishes into and the dialer reads).
RUN install -d -o duncall -g duncall /var/lib/duncall-scripts \
 && cp -a scripts/. /var/lib/duncall-scripts/ \
 && chown -R duncall:duncall /var/lib/duncall-scripts
# State (the prompt cache, pulled models, the metrics of every process) lives under
# DUNCALL_HOME, the one tree the service user may write; the code stays root's, read-only to it.
ENV DUNCALL_HOME=/var/lib/duncall \
    DUNCALL_SCRIPTS_DIR=/var/lib/duncall-scripts \
    PYTHONUNBUFFERED=1
# Run from outside the source tree: `python -m …` and the `duncall` command then both load the
# installed package (with its data files), never the copy in /opt/duncall.
WORKDIR /var/lib/duncall
USER duncall:duncall
ENTRYPOINT []
CMD ["duncall", "--help"]
