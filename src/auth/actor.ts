/** Roles from least to most: viewer reads; editor changes; admin and owner also install, delete, manage keys. */
export const ROLES = ['viewer', 'editor', 'admin', 'owner'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling, from a verified access token. */
export interface Principal {
  userId: string;
  orgId: string;
  role: Role;
}

/** Who asked and from where, for the audit log. */
export interface Actor extends Principal {
  ip?: string;
}

export function roleAtLeast(role: Role, min: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(min);
}
