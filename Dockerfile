# scaiprobe daemon: TypeScript compiled to JavaScript in a build stage; the image runs dist/ on the
# image's Node with no TypeScript loader. Debian's Chromium is included for reports (PDF) and the
# browser probe.

# 1. dist/: the compiled JavaScript (npm run build).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# tsc needs no install scripts; the optional packages are Node builds for `npm run setup` (the image has its own).
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# 2. The run-time dependencies, better-sqlite3 compiled here for the image's Node (headers under
# /usr/local/include/node) so that the compiler stays out of the image.
FROM node:24-bookworm-slim AS deps
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm_config_nodedir=/usr/local npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# 3. The image.
FROM node:24-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY probes ./probes
COPY data/*.json ./data/

# Results live on a volume; the process runs as the image's unprivileged user.
RUN mkdir -p /app/data && chown -R node:node /app/data
VOLUME ["/app/data"]
USER node

ENV NODE_ENV=production
EXPOSE 9464
# Listen on all interfaces inside the container: mount a config whose server.listen is 0.0.0.0:9464
# and whose server.token is set (beyond loopback the daemon refuses to start without one).
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:9464/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run", "--config", "/app/probes"]
