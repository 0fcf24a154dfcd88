/**
 * A FlowProducer whose addBulk fails when Redis refused any of its jobs. BullMQ sends a
 * flow's jobs in one MULTI and reads one reply per job, but addBulk drops a job's error
 * and answers as if it had been added. MULTI does not roll back: the jobs before and
 * after the refused one are in Redis. So a security entry whose audit job met an error
 * inside EXEC (OOM under maxmemory, say) was reported enqueued, and never stored, while
 * its alert went out. Failing the call makes the caller retry, which adds nothing twice
 * (eventId dedupe in the database, the alert's job id derived from the eventId).
 */
import {
  createRedisBackend,
  FlowProducer,
  type BackendFactory,
  type FlowProducerOptions,
  type RedisQueueBackend,
} from 'bullmq';

const strictRedisBackend: BackendFactory<RedisQueueBackend> = (name, opts, options) => {
  const backend = createRedisBackend(name, opts, options);
  const addFlow = backend.addFlow.bind(backend);
  backend.addFlow = async (entries) => {
    const results = await addFlow(entries);
    for (const [err, idOrCode] of results) {
      if (err) throw err;
      // Negative codes are BullMQ's refusals (a missing parent and the like).
      if (typeof idOrCode === 'number' && idOrCode < 0)
        throw new Error(`Redis refused a job of the flow (BullMQ code ${idOrCode})`);
    }
    return results;
  };
  return backend;
};

export function createStrictFlowProducer(opts: FlowProducerOptions): FlowProducer<RedisQueueBackend> {
  return new FlowProducer(opts, strictRedisBackend);
}
