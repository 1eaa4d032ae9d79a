/** Images the integration tests use; built offline by global-setup.ts from images/ and small Dockerfiles. */
export const TEST_IMAGES = {
  /** The shipped demo image, as the README builds it. */
  demo: 'spin-docker/demo',
  /** The demo image reporting every second. */
  fast: 'spin-docker-test/demo-fast',
  /** No exposed ports. */
  noPorts: 'spin-docker-test/noports',
  /** Runs as a user the image does not have: created, but Docker cannot start it. */
  broken: 'spin-docker-test/broken',
  /** Ignores SIGTERM (no init of its own), so a stop takes the whole stop timeout. */
  stubborn: 'spin-docker-test/stubborn',
  /** busybox httpd on port 80 and nothing else: an image that knows nothing about spin-docker (no reporter). */
  httpd: 'spin-docker-test/httpd',
  /** Writes a numbered line to stdout and to stderr five times a second. */
  chatty: 'spin-docker-test/chatty',
  /** Writes to stdout as fast as it can (busybox yes). */
  flood: 'spin-docker-test/flood',
  /** An echo server on 7000 (busybox nc), that takes a second to start listening. */
  echo: 'spin-docker-test/echo',
  /** busybox httpd on port 80 serving its volume /data (what a volume keeps across a stop). */
  volume: 'spin-docker-test/volume',
  /** Exposes a port, but its command exits at once. */
  exits: 'spin-docker-test/exits',
  /** The image kit (images/), built by images/build.sh. */
  base: 'spin-docker/base',
  postgres: 'spin-docker/postgres',
  django: 'spin-docker/django',
  redis: 'spin-docker/redis',
  /** spin-docker/postgres reporting every second. */
  postgresFast: 'spin-docker-test/postgres-fast',
} as const;
