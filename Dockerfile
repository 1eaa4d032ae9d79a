# spin-docker's API and worker in one image (two commands; see docker-compose.yml).
# Base images are build arguments so that a registry-less machine can build from images made locally.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
COPY scripts/build-web.mjs ./scripts/
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node scripts/build-web.mjs \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The processes run as an unprivileged user; the Docker socket's group is given at run time (group_add).
USER 1000:1000
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["node", "dist/api/main.js"]
