#ifndef MOVIEREC_CLINEARALGEBRA_SHIM_H
#define MOVIEREC_CLINEARALGEBRA_SHIM_H

/* Without these three, routines with complex arguments are silently dropped by the Swift importer. */
#define FORCE_OPENBLAS_COMPLEX_STRUCT
#define HAVE_LAPACK_CONFIG_H
#define LAPACK_COMPLEX_STRUCTURE

#include <cblas.h>
#include <lapacke.h>

#endif
