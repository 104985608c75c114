# syntax=docker/dockerfile:1
# rotation-relay worker image. Build: docker build -t rotation-relay .
# Run:   docker run --rm -e AWS_REGION=… -e ROTATION_RELAY_QUEUE_URL=… -e ROTATION_RELAY_REDIS_URL=… rotation-relay
# The same image runs any CLI command: docker run --rm rotation-relay node dist/ops/cli/main.js infra plan

# ---- build: all dependencies, compile TypeScript -------------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own "prepare" would build before the sources are copied.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only --------------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ROTATION_RELAY_HEALTH_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# ioredis is a required peer (the worker and the cache's bus need it; npm installs it for a
# consumer, but not for the package itself), pg and nodemailer optional ones that docker-compose's
# example app, which runs from this image, uses: all three at the ranges package.json declares.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund \
      "ioredis@$(node -p "require('./package.json').peerDependencies.ioredis")" \
      "pg@$(node -p "require('./package.json').peerDependencies.pg")" \
      "nodemailer@$(node -p "require('./package.json').peerDependencies.nodemailer")" \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# The event pattern, the verify samples and the template: `infra` commands read them at run time.
COPY infra ./infra
# Files stay root-owned and read-only to the process; it runs as the image's unprivileged user.
USER node
EXPOSE 8080
# Slim images have no curl: probe /healthz with Node's fetch.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ROTATION_RELAY_HEALTH_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/ops/cli/main.js", "worker"]
