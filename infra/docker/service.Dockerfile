# syntax=docker/dockerfile:1
# One image per service, from this one file: docker compose passes SERVICE
# (exchange-sim, exchange-ingest, aligner, windower, monitor, archiver), the name of the
# workspace folder under services/. Build context: the repository root.
#
#   docker build -f infra/docker/service.Dockerfile --build-arg SERVICE=aligner -t perpflow/aligner .
#
# Files left out of the context: service.Dockerfile.dockerignore (BuildKit reads
# <Dockerfile>.dockerignore beside the Dockerfile before the context's .dockerignore).
#
# Stages: prune (turbo keeps only the service's workspace, the packages it depends
# on and their part of package-lock.json) → build (install from the lock, compile
# TypeScript to dist/, drop dev dependencies) → runtime (node_modules + dist as a
# non-root user). The runtime runs compiled JavaScript: no tsx, no TypeScript.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim
ARG TURBO_VERSION=2.11.11

FROM ${NODE_IMAGE} AS prune
ARG SERVICE
ARG TURBO_VERSION
RUN test -n "${SERVICE}" || { echo "build with --build-arg SERVICE=<folder under services/>" >&2; exit 1; }
WORKDIR /src
RUN npm install --global --no-audit --no-fund "turbo@${TURBO_VERSION}"
COPY . .
RUN turbo prune "@perpflow/${SERVICE}" --docker

FROM ${NODE_IMAGE} AS build
ARG SERVICE
WORKDIR /app
ENV CI=true
# Manifests and the pruned lock first: this layer is rebuilt only when dependencies change.
COPY --from=prune /src/out/json/ ./
# npm 11 writes locks without other platforms' optional binaries (biome, turbo) and
# `npm ci` then refuses them; `npm install` installs the same locked versions
# (the same fallback as scripts/setup.sh).
RUN npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
COPY --from=prune /src/out/full/ ./
COPY tsconfig.base.json ./
RUN npx turbo run build --filter="@perpflow/${SERVICE}..." \
 && npm prune --omit=dev --no-audit --no-fund --loglevel=error \
 && rm -rf .turbo node_modules/.cache \
 && find packages services -name '*.tsbuildinfo' -delete

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    SERVICE=${SERVICE} \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/packages ./packages
COPY --from=build --chown=node:node /app/services ./services
COPY --chown=node:node infra/docker/healthcheck.mjs /app/healthcheck.mjs
# The uid of the image's `node` user; no process in the container runs as root.
USER node
WORKDIR /app/services/${SERVICE}
# /readyz on the service's METRICS_PORT (the simulator's PORT): the service is up
# and joined its Kafka group. Compose sets the same check with the configured port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=16", "dist/main.js"]
