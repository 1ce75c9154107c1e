# The duncall services' image (see docker-compose.yml).
FROM python:3.11-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 sox \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/duncall
COPY . .
# The CPU build of torch; an unpinned torch pulls a multi-GB CUDA build.
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir .
ENTRYPOINT []
