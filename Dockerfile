# scaiprobe daemon: TypeScript compiled to JavaScript in a build stage; the image runs dist/ on the
# image's Node with no TypeScript loader. Debian's Chromium is included for reports (PDF) and the
# browser probe.

# 1. dist/: the compiled JavaScript (npm run build).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# tsc needs no install scripts, nor the builds of Node among the optional packages.
RUN npm ci --ignore-scripts --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# 2. The image: run-time dependencies only (better-sqlite3 brings its compiled Node-API binary),
# the compiled code, the shipped configuration and the data catalogues.
FROM node:24-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
# No install script is needed: better-sqlite3 ships its binary, and esbuild (tsx's) is not used at run
# time. The optional packages are builds of Node for `npm run setup`: the image has its own.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund && npm cache clean --force
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
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=30", "dist/cli/main.js"]
CMD ["run", "--config", "/app/probes"]
