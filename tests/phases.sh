# Sourced by tests/run.sh: the time each phase took, printed by `trap phase_summary EXIT` when
# the script exits, whatever the exit (a phase cut short reads "stopped (exit N)"; the status is kept).
#   phase_begin NAME ... phase_end [RESULT]   a phase in the foreground (RESULT: "ok" unless given)
#   phase_later NAME FILE                     a phase in the background, which writes
#                                             "SECONDS RESULT" to FILE when it ends (removed once read)
phases_started=$SECONDS phase="" phase_start=0 phase_rows=() phase_files=()

phase_row() { phase_rows+=("$(printf '  %-50s %5s s  %s' "$1" "$2" "$3")"); }
phase_begin() { phase=$1 phase_start=$SECONDS; }
phase_end() { phase_row "$phase" $((SECONDS - phase_start)) "${1:-ok}"; phase=""; }
phase_later() { phase_files+=("$1" "$2"); }

phase_summary() {
  local status=$? i seconds result
  if [ -n "$phase" ]; then phase_end "stopped (exit $status)"; fi
  for ((i = 0; i < ${#phase_files[@]}; i += 2)); do
    if read -r seconds result < "${phase_files[i + 1]}" 2>/dev/null; then
      phase_row "${phase_files[i]}" "$seconds" "$result"
      rm -f "${phase_files[i + 1]}"
    else
      phase_row "${phase_files[i]}" - "not finished"
    fi
  done
  echo "time per phase (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)):"
  if [ ${#phase_rows[@]} -gt 0 ]; then printf '%s\n' "${phase_rows[@]}"; fi
  phase_row "total" $((SECONDS - phases_started)) "exit $status"
  printf '%s\n' "${phase_rows[-1]}"
}
