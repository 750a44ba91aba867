/** The bounded top-k heap the sources use lives in core (shared with search and model serving). */
export { TopK } from '../core/topk.js';
