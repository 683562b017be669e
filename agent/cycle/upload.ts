/**
 * The upload step: sends the spooled events (events/upload.ts). A contact error is noted and the
 * events wait; the spool's health slot follows what is still unreported.
 */
import { counted } from '../../policies/plural.js';
import { uploadEvents, type UploadResult } from '../events/upload.js';
import { ContactError } from '../net/contact.js';
import { describeError } from './state.js';
import type { Step } from './step.js';

/** What was sent, or null when the server was out of reach. */
export const uploadStep: Step<UploadResult | null> = {
  name: 'event upload',
  async run(state) {
    const { http, spool, health } = state.parts;
    try {
      const result = await uploadEvents(http, spool, state.now);
      state.noteContact(null);
      state.deliveryPending = result.remaining > 0 || result.unreportedLosses > 0;
      if (result.unreportedLosses === 0) health.clear('spool');
      else
        health.set(
          'spool',
          'spool-trouble',
          `${counted(result.unreportedLosses, 'lost event')} not yet reported${result.reportError ? `: ${result.reportError}` : ''}`,
          state.now,
        );
      return result;
    } catch (error) {
      state.deliveryPending = true;
      if (error instanceof ContactError) {
        state.noteContact(error);
        return null;
      }
      // Writing the events-dropped report on a full spool, say: the count is kept for later.
      health.set('spool', 'spool-trouble', `the events could not be sent: ${describeError(error)}`, state.now);
      throw error;
    }
  },
};
