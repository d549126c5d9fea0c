//! SARA's control plane: monitoring agent (on each server) and manager (on the dispatcher).
