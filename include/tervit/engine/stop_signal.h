#pragma once
// SIGINT and SIGTERM (Ctrl-C, `kill`, SLURM's preemption) ask the trainer to stop: the handler only
// records the request; the trainer finishes its step, writes a checkpoint and exits cleanly. A second
// signal of the same kind while stopping restores the default action, so it ends the process at once.

namespace tervit::engine {

// Installs the handlers (idempotent).
void install_stop_handlers();

// True once SIGINT or SIGTERM was received; returns the signal number, or 0.
int stop_requested();

}  // namespace tervit::engine
