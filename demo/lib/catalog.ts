// The demo's world: how many users and items exist and how requests name them.
// Shared by the services and the load generator so they agree on ids.

export const USERS = 10_000;
export const ITEMS = 20_000;
export const FEATURE_DIM = 8;

export const userId = (rank: number): string => `u${rank}`;
export const itemId = (rank: number): string => `i${rank}`;
