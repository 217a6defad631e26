# One image for both bins (ikukantai-proxy, ikukantai-controller); the manifests pick one with
# `command: [node, …, proxy/bin.js]` or `[node, controller/bin.js]`.
#
# Node 24 can run our .ts sources directly (type stripping, as `npm start` and the tests do), but
# the stripper itself costs about 17 MiB of RSS and start-up time in every process; compiled once
# here, the proxy idles at ~83 MiB RSS instead of ~113 MiB. Three stages:
#   build   — all dependencies and tsc: the sources compiled to JavaScript (tsconfig.build.json);
#   deps    — only the locked production dependencies;
#   runtime — node:24-slim with those node_modules and the compiled JavaScript: no npm cache,
#             compiler or sources ship (smaller image, fewer CVEs to track).
# Build: docker build -t <registry>/ikukantai:<tag> .

FROM node:24 AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# --ignore-scripts: the `node` devDependency only pins Node 24 for npm scripts; the image is Node 24.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY lib ./lib
COPY proxy ./proxy
COPY controller ./controller
RUN npx tsc -p tsconfig.build.json

FROM node:24 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out tap, TypeScript and the `node` devDependency (the image brings Node 24).
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json says "type": "module", which the compiled .js files need.
COPY package.json ./
COPY --from=build /app/dist/lib ./lib
COPY --from=build /app/dist/proxy ./proxy
COPY --from=build /app/dist/controller ./controller
# The base image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric USER.
USER 1000:1000
# Proxy: 8012 ingress, 8013 h2c (declared), 8014 peer, 9090 admin. Controller: 8080 stats, 9090 admin.
EXPOSE 8012 8013 8014 8080 9090
ENTRYPOINT ["node"]
CMD ["proxy/bin.js", "--help"]
