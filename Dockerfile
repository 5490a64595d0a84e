# openbatch itself as a container image: docker build -t openbatch .   (see docs/operations.md)
# NODE_IMAGE: any Debian-based image with Node 20 (a site mirror: --build-arg NODE_IMAGE=registry.example.org/node:20-bookworm-slim).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# npm ci builds the native modules (better-sqlite3) and, through "prepare", the TypeScript.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM ${NODE_IMAGE}
RUN useradd --system --uid 10001 --home-dir /var/lib/openbatch openbatch \
  && mkdir -p /var/lib/openbatch && chown openbatch:openbatch /var/lib/openbatch && chmod 0700 /var/lib/openbatch
WORKDIR /opt/openbatch
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist ./dist
# The AWS models (input validation) and the dashboard's static files are read at run time.
COPY --from=build /src/models ./models
COPY --from=build /src/src/api/web/static ./src/api/web/static
USER openbatch
ENV OPENBATCH_DATA=/var/lib/openbatch OPENBATCH_HOST=0.0.0.0 OPENBATCH_PORT=8000 NODE_ENV=production
VOLUME /var/lib/openbatch
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8000/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/opt/openbatch/bin/openbatch"]
CMD ["server"]
