/* quantize_pipeline.h — lowbit-quantize's work: open the model (GGUF or safetensors), plan every tensor,
 * then stream one tensor at a time through dequantize → quantize → round-trip check into the writer. */
#ifndef LOWBIT_QUANTIZE_PIPELINE_H
#define LOWBIT_QUANTIZE_PIPELINE_H

#include <stddef.h>

#include "tools/quantize/quantize_options.h"
#include "tools/quantize/quantize_report.h"

/* Runs the whole job (or only the plan under --dry-run). `summary` is filled as far as the run got
 * and must be freed with quantize_summary_free. Returns 0, or -1 with a message; a failure leaves no
 * output file behind. `progress_out` (stderr) gets the progress display, NULL for none. */
int quantize_pipeline_run(const quantize_options *options, FILE *progress_out, quantize_summary *summary, char *error,
                          size_t error_size);
void quantize_summary_free(quantize_summary *summary);

#endif
