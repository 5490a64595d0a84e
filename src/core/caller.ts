/** Who is calling: the API layer fills it from the verified access key; services decide what it may see and do. */
export interface Caller {
  user: string;
  pi: string;
  admin: boolean;
}

/** The server itself acting as an administrator (e.g. terminating the jobs of a deleted queue). */
export const SYSTEM_CALLER: Caller = { user: 'root', pi: '', admin: true };
