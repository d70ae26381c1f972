//! The simulated ArcGIS portal (spec/portal-sim.md).
