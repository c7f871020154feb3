# syntax=docker/dockerfile:1
# Trine gateway image. Build from the repository root:
#   docker build -f infra/docker/gateway.Dockerfile -t trine-gateway .
# (gateway.Dockerfile.dockerignore beside this file is the build context's ignore list.)

# ---- build: full workspace install (node-gyp builds the kernels-cpu addon), build, then prune to prod deps ----
FROM node:20-bookworm AS build
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends build-essential python3 \
 && rm -rf /var/lib/apt/lists/*
RUN npm i -g pnpm@10.34.9
WORKDIR /src
# Manifests first: the dependency layer is cached until the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN pnpm fetch --frozen-lockfile
COPY . .
ENV TURBO_TELEMETRY_DISABLED=1
RUN pnpm install --frozen-lockfile --offline && pnpm build
RUN infra/docker/assemble.sh gateway /out

# ---- runtime: slim Node, non-root, dist + prod deps + the native addon ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TRINE_LISTEN=0.0.0.0:50051 \
    TRINE_HTTP_LISTEN=0.0.0.0:8080 \
    TRINE_METRICS_LISTEN=0.0.0.0:9464 \
    TRINE_CACHE_DIR=/var/cache/trine
WORKDIR /app
COPY --from=build --chown=root:root /out/ /app/
# The default model is generated once into TRINE_CACHE_DIR: the only path the process writes.
RUN groupadd --system --gid 10001 trine \
 && useradd --system --uid 10001 --gid trine --home-dir /nonexistent --shell /usr/sbin/nologin trine \
 && mkdir -p /var/cache/trine && chown trine:trine /var/cache/trine
USER 10001:10001
EXPOSE 50051 8080 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/app/apps/gateway/healthcheck.mjs", "127.0.0.1:50051", "trine.v1.Inference"]
# SIGTERM goes straight to node (exec form, no shell): the app drains for TRINE_SHUTDOWN_GRACE_MS, then exits.
CMD ["node", "--import", "./apps/gateway/src/otel/register.mjs", "apps/gateway/dist/main.js"]
