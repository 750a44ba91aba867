/**
 * The trainer stage's public door: the store → sequences loader, the fit → register → activate job, the
 * ranker job, the job table, one round over it, the scheduled trainer and its state, and the child
 * process `serve`/`demo` run it in.
 */
export { loadTrainingData, type TrainingData } from './data.js';
export { registerAndActivate, trainFromStore, warmStartInit, type FitJobOptions, type TrainSummary } from './fit.js';
export { trainBlendFromStore, type BlendJobOptions, type BlendJobSummary } from './blend.js';
export { RankerParams, trainRankerFromStore, type TrainRankerOptions, type TrainRankerSummary } from './ranker.js';
export { fitJob, jobFor, trainableNames, trainJobNames, trainJobs, type JobContext, type JobSummary, type TrainJob } from './jobs.js';
export { runRound, selectJobs, type JobResult, type RoundOptions, type RoundResult } from './round.js';
export { Trainer, scheduleDecision, type ScheduleDecision, type ScheduleInput, type TrainerOptions } from './trainer.js';
export { acquireLock, readLock, type HeldLock, type LockInfo } from './lock.js';
export { lockPath, readState, statePath, type TrainerState } from './state.js';
export { ModelsStatusSchema, modelsStatus, type ModelsStatus } from './status.js';
export { maybeStartTrainer, startTrainerChild, type TrainerChild, type TrainerChildOptions } from './child.js';
