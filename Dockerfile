# syntax=docker/dockerfile:1
# Modelshare server image: built in one stage (compilers for better-sqlite3, TypeScript), run in a
# slim one as an unprivileged user with the data directory as a volume.
#
#   docker build -t modelshare .
#   docker run -d --name modelshare -p 8443:8443 -v modelshare-data:/var/lib/modelshare modelshare
#
# BASE_IMAGE is any Debian-based Node.js image (Node 20.19 or newer); the default is the current LTS.
ARG BASE_IMAGE=node:26-bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    MODELSHARE_CONFIG=/etc/modelshare/modelshare.yaml \
    MODELSHARE_DATA_DIR=/var/lib/modelshare \
    MODELSHARE_SERVER_HOST=0.0.0.0
RUN groupadd --system --gid 10001 modelshare \
 && useradd --system --uid 10001 --gid modelshare --home-dir /var/lib/modelshare --shell /usr/sbin/nologin modelshare \
 && mkdir -p /var/lib/modelshare /etc/modelshare \
 && chown modelshare:modelshare /var/lib/modelshare \
 && chmod 0700 /var/lib/modelshare
WORKDIR /opt/modelshare
COPY --from=build /build/package.json ./
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist/src ./dist/src
COPY migrations ./migrations
COPY config/modelshare.example.yaml /etc/modelshare/modelshare.example.yaml
RUN ln -s /opt/modelshare/dist/src/main.js /usr/local/bin/modelshare && chmod 0755 dist/src/main.js
USER modelshare
VOLUME ["/var/lib/modelshare"]
EXPOSE 8443
# /healthz answers while the process is alive; the image's own Node.js asks, so no curl is needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const u=process.env.MODELSHARE_HEALTH_URL||'http://127.0.0.1:8443/healthz';import(u.startsWith('https')?'node:https':'node:http').then(m=>m.get(u,{rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/modelshare/dist/src/main.js"]
CMD ["serve"]
