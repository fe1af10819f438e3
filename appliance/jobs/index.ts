// The job scheduler: periodic work (sweeps, connectivity tests, grant expiry, feed pruning) run by one
// process of the appliance at a time, under a lease row in the store that another process takes over.
export { JobScheduler, type Job, type JobSchedulerOptions } from './scheduler.js';
