#!/usr/bin/env bash
# Run one test command under two ATen CPU kernels at once and fail if either fails:
#   tools/kernels.sh NAME COMMAND [ARGS...]
# "default" is ATen's portable scalar kernel (ATEN_CPU_CAPABILITY=default); "best" is
# what torch picks on this CPU (AVX2 or AVX-512 on x86). float32 rounding differs between
# them, so a printed number or a tolerance that depends on the instruction set fails
# here rather than on a user's machine. The two runs share the 2 cores (each test
# process uses one torch thread); their logs are build/NAME-<kernel>.log.
set -uo pipefail
name=$1; shift
# one thread per process for BLAS / OpenMP too: the two runs share the 2 cores
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p build
best=$(ATEN_CPU_CAPABILITY= "${PYTHON:-.venv/bin/python}" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())' 2>/dev/null || echo "?")
ATEN_CPU_CAPABILITY=default "$@" > "build/$name-default.log" 2>&1 &
p_default=$!
env -u ATEN_CPU_CAPABILITY "$@" > "build/$name-best.log" 2>&1 &
p_best=$!
wait $p_default; rc_default=$?
wait $p_best; rc_best=$?
status=0
for k in default best; do
  rc_var=rc_$k
  label=$k; [ "$k" = best ] && label="best ($best)"
  if [ "${!rc_var}" -eq 0 ]; then
    echo "   $name under the $label kernel: $(grep -E '(passed|failed|error)' "build/$name-$k.log" | tail -1)"
  else
    echo "   $name under the $label kernel FAILED (exit ${!rc_var}); build/$name-$k.log:"
    tail -n 60 "build/$name-$k.log"
    status=1
  fi
done
exit $status
