# syntax=docker/dockerfile:1
# One image for every Sluice deployable: `sluice api`, `sluice worker`, `sluice jobs`,
# `sluice init` and the all-in-one `sluice start` (the command is the container's argument).
# Node.js 24 runs the TypeScript sources directly (type stripping), as `npm start` does:
# there is no build step, only the production dependencies.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- dependencies: production only, from the lock file, without install scripts or
# optional packages (the native pulsar-client is optional; the image uses Pulsar's
# WebSocket API, PULSAR_TRANSPORT=websocket or auto).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/ ./packages/
COPY apps/ ./apps/
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8686 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=deps --chown=root:root /app /app
# Data (embedded log, SQLite, the Pulsar spool) lives on a volume owned by the runtime user;
# everything else is read-only to it, so the root filesystem can be mounted read-only.
RUN mkdir -p /data && chown 1000:1000 /data
VOLUME ["/data"]
# uid 1000 is the image's `node` user, named by number so that Kubernetes can check runAsNonRoot.
USER 1000:1000
EXPOSE 8686
# Alive on /healthz (readiness, /readyz, is the orchestrator's to probe: it fails while
# draining or while `sluice init` has not run). `sluice init` exits before the first probe.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8686)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "apps/cli/src/bin.ts"]
CMD ["start"]
