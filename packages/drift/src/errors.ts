import { PerpflowError } from '@perpflow/contracts';
/** A sample the statistics cannot use (empty, or holding a non-finite value). Not retriable: the input is wrong. */
export class DriftInputError extends PerpflowError {
  readonly code = 'drift.invalid_sample';
  readonly retriable = false;
  constructor(message: string) {
    super(message);
  }
}
