# One image for both bins (ikukantai-proxy, ikukantai-controller); the manifests pick one with
# `command: [node, proxy/bin.ts]` or `[node, controller/bin.ts]`.
#
# Node 24 runs our .ts sources directly (type stripping), so there is nothing to compile. Two
# stages anyway: the first has npm and the full Debian toolchain to install the locked production
# dependencies; the runtime stage is node:24-slim with only node_modules and the sources, so npm's
# cache, the lockfile tooling and compilers never ship (smaller image, fewer CVEs to track).
# Build: docker build -t <registry>/ikukantai:<tag> .

FROM node:24 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev leaves out tap, TypeScript and the `node` devDependency (the image brings Node 24).
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY lib ./lib
COPY proxy ./proxy
COPY controller ./controller
# The base image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric USER.
USER 1000:1000
# Proxy: 8012 ingress, 8013 h2c (declared), 8014 peer, 9090 admin. Controller: 8080 stats, 9090 admin.
EXPOSE 8012 8013 8014 8080 9090
ENTRYPOINT ["node"]
CMD ["proxy/bin.ts", "--help"]
