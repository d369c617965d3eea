# monitor: the daemon with the embedded defaults (SQLite and the .eml outbox in /data).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MONITOR_DATABASE_URL=sqlite:////data/monitor.db \
    MONITOR_OUTBOX_DIR=/data/outbox \
    MONITOR_SOURCES=/app/sources.toml

# LibreOffice (writer only) reads .doc and .wps attachments; without it they are stored
# with "未安装 LibreOffice，未提取文本" (build with --build-arg LIBREOFFICE=0 to leave it out).
# Chromium renders sources with fetch = "browser" / "auto" (build with --build-arg
# BROWSER=1; about +360 MB installed: Debian's chromium 290 MB + chromium-common 66 MB,
# plus a CJK font). Off by default: most sources never need it, and without it such
# sources fail with a reason naming the package while everything else runs.
ARG LIBREOFFICE=1
ARG BROWSER=0
RUN pkgs=""; [ "$LIBREOFFICE" = 1 ] && pkgs="$pkgs libreoffice-writer-nogui"; \
    [ "$BROWSER" = 1 ] && pkgs="$pkgs chromium fonts-wqy-microhei"; \
    if [ -n "$pkgs" ]; then apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs \
 && rm -rf /var/lib/apt/lists/*; fi

WORKDIR /app
COPY pyproject.toml requirements.lock README.md ./
COPY monitor ./monitor
COPY storage ./storage
COPY alerts ./alerts
RUN pip install --no-cache-dir -c requirements.lock . \
 && useradd --system --uid 10001 --home-dir /data monitor \
 && mkdir -p /data && chown monitor /data
COPY sources.toml ./

USER monitor
VOLUME ["/data"]
CMD ["monitor", "run"]
