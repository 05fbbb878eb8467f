-- One database per service, as deploy/local/stack.sh creates them.
CREATE DATABASE invitations OWNER hlm360;
CREATE DATABASE ratings OWNER hlm360;
CREATE DATABASE reports OWNER hlm360;
CREATE DATABASE scheduling OWNER hlm360;
