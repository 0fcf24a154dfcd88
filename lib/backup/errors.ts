/** A backup kind this version cannot take: the job fails at once instead of retrying. */
export class NotImplementedError extends Error {
  override readonly name = 'NotImplementedError';
}
