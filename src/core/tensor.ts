/** A flat tensor as models save it and the model registry stores it: little-endian 32-bit values. */
export type Tensor = Float32Array | Int32Array;
