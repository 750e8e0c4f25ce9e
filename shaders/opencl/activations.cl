/* activations.cl — how every kernel reads x, embedded ahead of each family: f32 by default, IEEE halves
 * with X_F16. vload_half* are core OpenCL 1.2 (no cl_khr_fp16): the halves are only read and converted,
 * the arithmetic and the accumulators stay f32, so every device reads f16 activations natively and the
 * host never widens them. `offset` counts whole vectors, as vloadn's does; pointers need only element
 * alignment, so rows of any length (odd cols) are fine. */
#if defined(X_F16)
#define X_TYPE half
#define x_load16(offset, p) vload_half16(offset, p)
#define x_load4(offset, p) vload_half4(offset, p)
#define x_load(index, p) vload_half(index, p)
#else
#define X_TYPE float
#define x_load16(offset, p) vload16(offset, p)
#define x_load4(offset, p) vload4(offset, p)
#define x_load(index, p) ((p)[index])
#endif
