# scaiprobe daemon. Debian's Chromium is included for reports (PDF) and the browser probe.
FROM node:22-bookworm-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium fonts-dejavu-core ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
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
ENTRYPOINT ["node", "bin/scaiprobe.js"]
CMD ["run", "--config", "/app/probes"]
