// relay/worker: the worker — SQS intake, confirm, sign, publish — and its composition root.
export { RelayWorker } from './relay-worker.js';
