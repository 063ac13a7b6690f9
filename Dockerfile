# testum: one image for the web side (`testum serve`), the workers (`testum worker`)
# and the command line (`docker compose run --rm web testum hosts list`).

# Compiles src/ to dist/ with the development dependencies.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only (no TypeScript, no tsx).
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    TESTUM_DATA_DIR=/var/lib/testum
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
# `testum` on PATH; bin/testum.js runs dist/cli.js when there are no sources.
RUN ln -s /app/bin/testum.js /usr/local/bin/testum \
 && mkdir -p /var/lib/testum && chown node:node /var/lib/testum
USER node
# The web side listens on PORT (3000); a worker serves its health and metrics on WORKER_PORT (3001).
EXPOSE 3000 3001
# Whichever of the two ports this process serves must answer /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["node", "-e", "const p=[process.env.PORT||3000,process.env.WORKER_PORT||3001];Promise.any(p.map(n=>fetch('http://127.0.0.1:'+n+'/healthz').then(r=>{if(!r.ok)throw 0}))).then(()=>process.exit(0),()=>process.exit(1))"]
CMD ["testum", "serve"]
