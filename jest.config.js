/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // swc compiles TS and the few ESM-only dependencies to CommonJS (see docs/architecture.md).
  transform: {
    '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // The OTLP exporters load node:http with import(), which Jest's CommonJS runtime refuses
  // without --experimental-vm-modules: compile that package's import() to require() too.
  transformIgnorePatterns: ['/node_modules/(?!(cookie|p-limit|yocto-queue|@opentelemetry/otlp-exporter-base)/)'],
  testTimeout: 30000,
  // Tests start real servers on ephemeral loopback ports; two workers match the 2-core CI machine.
  maxWorkers: 2,
};
