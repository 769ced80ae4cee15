# Modelshare server image: built in one stage (compilers for better-sqlite3, TypeScript), run in a
# slim one as an unprivileged user with the data directory as a volume.
#
#   docker build -t modelshare .
#   docker run -d --name modelshare --stop-timeout 45 -p 8443:8443 -v modelshare-data:/var/lib/modelshare modelshare
#
# With no sign-in provider configured the container lets nobody in (the demo sign-in runs only on
# loopback, or with MODELSHARE_DEMO_ENABLED=on): configure auth.providers in the mounted settings
# file; until then `docker exec modelshare modelshare admin token --email you@firm.example` serves
# for setting up. The README's "Install with Docker" walks through it.
#
# BASE_IMAGE is any Debian-based Node.js image (Node 20.19 or newer, with npm); the default is the
# current LTS. The build stage installs python3, make and g++ with apt-get only when they are missing,
# and compiles against the base image's own Node.js headers when it ships them (no download).
ARG BASE_IMAGE=node:26-bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN set -eu; \
    if ! { command -v python3 && command -v make && command -v g++; } >/dev/null 2>&1; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++; \
      rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /build
COPY package.json package-lock.json ./
# better-sqlite3 is compiled here when no prebuilt binary can be fetched; point node-gyp at the
# headers of the Node.js that will run it, if the image has them, instead of downloading them.
RUN set -eu; \
    prefix="$(dirname "$(dirname "$(command -v node)")")"; \
    if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir="$prefix"; fi; \
    npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
# Only the compiled addon of better-sqlite3 is kept, not its sources and intermediate objects.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

FROM ${BASE_IMAGE}
ENV NODE_ENV=production \
    MODELSHARE_CONFIG=/etc/modelshare/modelshare.yaml \
    MODELSHARE_DATA_DIR=/var/lib/modelshare \
    MODELSHARE_SERVER_HOST=0.0.0.0
# The user modelshare (uid/gid 10001); without the shadow tools (a minimal base) the entries are
# written directly. /etc/modelshare/modelshare.yaml starts empty (embedded defaults plus the
# environment above); mount your own file over it, or set MODELSHARE_* variables.
RUN set -eu; \
    if command -v groupadd >/dev/null 2>&1 && command -v useradd >/dev/null 2>&1; then \
      groupadd --system --gid 10001 modelshare; \
      useradd --system -K SYS_UID_MAX=10001 --no-log-init --uid 10001 --gid modelshare --no-create-home \
        --home-dir /var/lib/modelshare --shell /usr/sbin/nologin modelshare; \
    else \
      echo 'modelshare:x:10001:' >> /etc/group; \
      echo 'modelshare:x:10001:10001:Modelshare:/var/lib/modelshare:/usr/sbin/nologin' >> /etc/passwd; \
    fi; \
    mkdir -p /var/lib/modelshare /etc/modelshare; \
    chown modelshare:modelshare /var/lib/modelshare; \
    chmod 0700 /var/lib/modelshare; \
    printf '%s\n' \
      '# Modelshare settings for this container; every key is documented in modelshare.example.yaml.' \
      '# The environment (MODELSHARE_<SECTION>_<KEY>) wins over this file. Mount your own file here.' \
      > /etc/modelshare/modelshare.yaml; \
    chmod 0644 /etc/modelshare/modelshare.yaml
WORKDIR /opt/modelshare
COPY --from=build /build/package.json ./
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/dist/src ./dist/src
COPY migrations ./migrations
COPY config/modelshare.example.yaml /etc/modelshare/modelshare.example.yaml
RUN ln -s /opt/modelshare/dist/src/main.js /usr/local/bin/modelshare && chmod 0755 dist/src/main.js
USER modelshare:modelshare
VOLUME ["/var/lib/modelshare"]
EXPOSE 8443
# GET /healthz answers while the process is alive; the image's own Node.js asks, so no curl is needed.
# It tries HTTPS first, then plain HTTP, on the port of MODELSHARE_SERVER_PORT (default 8443). The
# HTTPS attempt does not verify the certificate (the server's internal CA is not in Node's trust
# store): it sends nothing secret and only reads a status code from 127.0.0.1, so that is harmless.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const e=process.env,h=e.MODELSHARE_SERVER_HOST,o={host:!h||h==='0.0.0.0'||h==='::'?'127.0.0.1':h,port:Number(e.MODELSHARE_SERVER_PORT||8443),path:'/healthz',timeout:1500,rejectUnauthorized:false};const get=m=>new Promise((ok,no)=>require(m).get(o,r=>{r.resume();r.statusCode===200?ok():no()}).on('timeout',function(){this.destroy()}).on('error',no));get('node:https').catch(()=>get('node:http')).then(()=>process.exit(0),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# --max-semi-space-size=1: a young generation of 1 MiB a half (V8 grows it to 16), about 10 MiB less
# resident at rest and 15-30 MiB less during large transfers (npm run bench -- idle sharing).
ENTRYPOINT ["node", "--max-semi-space-size=1", "/opt/modelshare/dist/src/main.js"]
CMD ["serve"]
